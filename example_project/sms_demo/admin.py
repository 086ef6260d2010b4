"""Nothing of its own to administer: see the Xunchen SMS section of the admin."""
