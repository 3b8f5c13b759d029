"""pushstack: a complete Mozilla Push (autopush) stack on AWS, as a CloudFormation template."""
