"""Getting a trained model onto a board: the serial raw REPL, the file sync, the board's main.py."""
