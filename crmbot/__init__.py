"""crmbot: the app factory (crmbot.app) and the command line (crmbot.cli) that wire the folders."""
