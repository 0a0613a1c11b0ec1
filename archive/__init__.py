"""The archive domain: recordings of past broadcasts, chat replay beside them, chat export and statistics.

May import: core and live.public (read models and the access policy). Never web, faq or other live modules.
"""
