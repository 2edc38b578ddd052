"""The exceptions a user sees: the CLI turns each into a one-line ``error:`` message (exit status 2), the web app
into a 400 with the message; every other exception is a bug and keeps its traceback."""


def listed(names) -> str:
    """Names for a message: "a, b or c"."""
    names = [str(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


class TextVAEError(Exception):
    """A user-facing error: bad input file, bad recipe, incompatible checkpoint.

    The message is one line naming the file, line or option and what is wrong.
    """


class BadValue(TextVAEError, ValueError):
    """A value a library function does not accept, named by the parameter that carried it: ``param`` (the
    function's own name for it; ``a/b`` for two together), ``value`` where the message shows it, ``problem``
    (what is wrong and what is allowed). Its message is ``param value: problem``; the CLI writes the option that
    carries the parameter instead (:meth:`for_option`), the web app the form field. A ValueError too, so code
    that caught one before still does."""

    def __init__(self, param: str, problem: str, value=None) -> None:
        self.param, self.problem, self.value = param, problem, value
        super().__init__(self._text(param))

    def __reduce__(self):  # pickled whole (sent between ranks), not rebuilt from its message alone
        return BadValue, (self.param, self.problem, self.value)

    def _text(self, name: str) -> str:
        return f"{name}{'' if self.value is None else f' {self.value}'}: {self.problem}"

    def for_option(self, options: dict[str, str] | None = None) -> str:
        """The message with the parameter written as its command-line option: ``options[param]`` where given,
        else ``--param`` with dashes (``from_label/to_label`` -> ``--from-label/--to-label``)."""
        flags = (options or {}).get(self.param) or "/".join(
            "--" + p.replace("_", "-") for p in self.param.split("/"))
        return self._text(flags)
