"""Policy as code: agreements, the firewall, cohorts, pauses and admission rules.

``agreement`` (the agreement model, loader and JSON Schema), ``policy`` (the policy model
and its built-in defaults), ``firewall``, ``lint``, ``compile`` (rules and cohorts to
SQL), ``registry`` (versions in the database) and ``pauses``.
"""
