"""Running AircraftML on AWS: SQS and DynamoDB plumbing, and the Lambda adapters."""
