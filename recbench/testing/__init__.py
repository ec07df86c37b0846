"""The plugin conformance kit: ``check_plugin`` runs a model through the contract on tiny data.

A plugin's whole test file can be::

    from recbench.testing import check_plugin

    def test_gmf_follows_the_plugin_contract():
        check_plugin("gmf")

See :func:`~recbench.testing.conformance.check_plugin` for what is checked.
"""

from recbench.testing.conformance import CheckReport, PluginContractError, check_plugin

__all__ = ["CheckReport", "PluginContractError", "check_plugin"]
