"""The phonebook: contacts for caller-name lookup and the agent's screen pop, in four rooms:

* ``contacts``: the service functions that list, validate, write and audit contacts;
* ``lookup``: a contact by phone number (what FastAGI asks at call time), and how it is shown;
* ``numbers``: the rule that makes two ways of writing a number the same number;
* ``csv_file``: the phonebook as a CSV file, exported and imported all-or-nothing.

The console's Phonebook page is ``appliance.web.contacts``; the REST API serves ``/api/v1/contacts``.
"""
