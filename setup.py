"""What the wheel holds beyond pyproject.toml's static metadata: the repository's dbt project, Great
Expectations suites and example campaigns, inside the `reengage` package, so an installed product
finds them where a checkout has them at the top level (reengage.settings.shipped).

pyproject.toml cannot list a computed set of packages beside folders mapped in from elsewhere, hence
these few lines; everything else (metadata, dependencies, which files of each folder) is there.
"""

from setuptools import find_packages, setup

# The package each top-level folder becomes in the wheel.
SHIPPED = {
    "reengage.dbt_project": "dbt_project",
    "reengage.expectations": "expectations",
    "reengage.campaigns": "campaigns",
}

setup(packages=[*find_packages(include=["reengage", "reengage.*"]), *SHIPPED], package_dir=SHIPPED)
