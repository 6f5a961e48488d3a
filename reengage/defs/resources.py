"""Resources every domain shares: the warehouse file, dbt, SendGrid and Twilio."""

import dagster as dg

from reengage.defs.delivery.resource import sendgrid_from_environment
from reengage.defs.delivery.twilio_resource import twilio_from_environment
from reengage.defs.warehouse.assets import dbt_project
from reengage.defs.warehouse.dbt_cli import WarehouseDbtCliResource, dbt_executable
from reengage.warehouse import WarehouseResource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(),
            # the product's dbt, or on warehouse_kind spark the Spark environment's (dbt_cli.py)
            "dbt": WarehouseDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
            "sendgrid": sendgrid_from_environment(),
            "twilio": twilio_from_environment(),
        }
    )
