"""Resources every domain shares: the warehouse file, dbt and SendGrid."""

import os

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.defs.delivery.resource import SendGridResource
from orchestration.defs.warehouse.assets import DBT_EXECUTABLE, dbt_project
from orchestration.warehouse import WarehouseResource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(),
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
            # The key comes only from the environment (the UI shows the variable's name, never
            # its value); without one, the embedded local sink is used and accepts a placeholder.
            "sendgrid": SendGridResource(
                api_key=dg.EnvVar("SENDGRID_API_KEY") if os.environ.get("SENDGRID_API_KEY") else "",
                host=os.environ.get("REENGAGE_SENDGRID_HOST", "embedded"),
            ),
        }
    )
