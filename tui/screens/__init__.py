"""Tab panes (one per workflow step) and the modal dialogs they open."""
