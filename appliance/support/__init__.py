"""The technician's tools: ``diagnostics`` (linebox diag), ``logs``, ``calls``, ``network``, ``backup``
and restore, and the ``debug_bundle`` for a support case.  They only read the box, except restore."""
