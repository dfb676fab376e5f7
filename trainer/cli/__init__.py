"""The command line: argument parsing, logging, one-line errors and stable exit codes, and the
commands wired to the training path and the registry. Nothing imports it but `__main__`.
"""
