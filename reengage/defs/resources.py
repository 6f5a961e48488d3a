"""Resources every domain shares: the warehouse file, dbt and SendGrid."""

import dagster as dg

from reengage.defs.delivery.resource import sendgrid_from_environment
from reengage.defs.warehouse.assets import dbt_project
from reengage.defs.warehouse.dbt_cli import DBT_EXECUTABLE, WarehouseDbtCliResource
from reengage.warehouse import WarehouseResource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(),
            "dbt": WarehouseDbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
            "sendgrid": sendgrid_from_environment(),
        }
    )
