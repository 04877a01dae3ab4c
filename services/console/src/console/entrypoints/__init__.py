"""How the console is started."""
