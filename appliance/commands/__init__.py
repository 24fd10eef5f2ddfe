"""Groups of ``linebox`` commands kept out of ``appliance.cli`` so each concern's commands live together."""
