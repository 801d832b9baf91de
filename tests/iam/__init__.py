"""The IAM test: every AWS call the functions make in the local-mode tests, held to the
policies of the function that made it in the transformed template (tests/iam/README.md)."""
