"""fanmail on your machine, apart from the product (the `fanmail` package, which is all that
ships to Lambda and never imports this one):

- the `fanmail` command (cli/): the admin commands, against a deployed stack or a local one;
- local mode: the embedded stand-in (moto server for DynamoDB, S3 and SES, the stand-in's
  resources, in-process Lambda, schedule firing, the feedback path, the local API Gateway, the
  console and its dashboard, the demo and its report);
- the in-memory adapters (adapters/) of every port, which local mode, the tests and the
  benchmarks run on: the memory stack (harness), fault injection (faults), the scale
  simulation (simulation) and generated lists (demo_data).

It sits above the product's handlers: it runs them as Lambda would.
"""
