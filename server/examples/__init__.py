"""The example ruleset shipped in the package: what `segflow serve` runs when given nothing else."""

from importlib.resources import files

EXAMPLE_RULESET = (files(__package__) / "retail_web.yaml").read_text()
