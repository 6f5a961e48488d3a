"""Re-engagement pipeline: the Dagster code location and the stages' logic."""

import os

# OpenMP's waiting threads (scikit-learn's gradient boosting: the churn and uplift models, judging)
# spin by default. Beside any other busy process (a second model fit, the database, a neighbour on a
# shared machine) the spinning threads take the cores the working ones need: on 2 loaded cores, two
# processes each fitting 4 models took 386 s and 406 s spinning, 6.6 s and 6.4 s sleeping
# (benchmarks/model_fits_side_by_side.py). libgomp reads the policy once, when it is first loaded,
# so it is set here, before anything imports scikit-learn; a setting of the environment's own wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
