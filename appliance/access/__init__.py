"""Who may get in: console accounts (``accounts``) and REST API tokens (``apitokens``), every change audited."""
