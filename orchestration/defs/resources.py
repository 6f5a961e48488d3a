"""Resources every domain shares: the warehouse file, dbt and SendGrid."""

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.defs.delivery.resource import sendgrid_from_environment
from orchestration.defs.warehouse.assets import DBT_EXECUTABLE, dbt_project
from orchestration.warehouse import WarehouseResource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(),
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
            "sendgrid": sendgrid_from_environment(),
        }
    )
