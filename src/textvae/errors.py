"""The one exception type the CLI turns into a one-line error message."""


class TextVAEError(Exception):
    """A user-facing error: bad input file, bad recipe, incompatible checkpoint.

    The message is one line naming the file, line or option and what is wrong.
    """
