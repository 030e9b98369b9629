"""`carnet report`: a campaign's figures, as the département presents them at its yearly meeting
("46 200 Pass délivrés, 33 000 collégiens ont utilisé leur Pass, 2,1 millions d'euros de Pass
consommés, 73 500 tickets, montants les plus utilisés : 10 €, 70 €, 30 €, 910 organismes affiliés,
40 nouveaux"), and the budget still committed as of a day, read from each service's figures API
(`GET /v1/stats`: the numbers are the services' own).

`gather.py` asks the services, `figures.py` puts their answers together and checks the committed
budget adds up to the cent, `formats.py` writes the table, the CSV and the JSON."""

from .figures import NEW_AFFILIATE_LEAD, figures
from .formats import as_csv, as_json, as_table
from .gather import gather

__all__ = ["NEW_AFFILIATE_LEAD", "as_csv", "as_json", "as_table", "figures", "gather"]
