"""The one exception type the CLI turns into a one-line error message."""


def listed(names) -> str:
    """Names for a message: "a, b or c"."""
    names = [str(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


class TextVAEError(Exception):
    """A user-facing error: bad input file, bad recipe, incompatible checkpoint.

    The message is one line naming the file, line or option and what is wrong.
    """
