"""The terminal app: a Textual front end that drives `core` from keyboard-first screens."""
