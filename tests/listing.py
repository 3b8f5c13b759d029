"""Whole listings from the sandbox for the tests: AWS pages them, and the session's
sandbox holds more than one page (ListTables answers at most 100 names a call)."""


def all_tables(dynamodb) -> list[str]:
    """Every table name the client's region has, all pages read."""
    pages = dynamodb.get_paginator("list_tables").paginate()
    return [name for page in pages for name in page["TableNames"]]
