"""Generate ``examples/data/agent_memory.jsonl``, the bundled example dataset.

It is what an AI assistant working for Kestrel Software, a ~30-person software
company in Lisbon and Berlin, might have gathered over half a year: people,
companies, projects, repositories, technologies, meetings, documents and
places, joined by typed relations.

The output is deterministic: hand-written name lists and text templates, picked
from with one seeded ``random.Random``, iterated only in list or dict insertion
order (never over a ``set``, whose string order changes between runs). The
committed file must equal what this script writes; ``tests/test_demo.py`` checks
it, so edit this script and re-run it rather than editing the file.

Usage::

    python examples/make_dataset.py            # rewrites examples/data/agent_memory.jsonl
    python examples/make_dataset.py --out FILE
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

SEED = 20240611
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "agent_memory.jsonl"
COMPANY = "Kestrel Software"


class Dataset:
    """Entities and relations in creation order, with the checks a store would make.

    Parameters
    ----------
    seed
        Seed of the one random generator every choice goes through.
    """

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.entities: dict[str, dict[str, Any]] = {}
        self.relations: dict[tuple[str, str, str], dict[str, Any]] = {}

    def entity(
        self, name: str, entity_type: str, text: str, observations: list[str] | None = None, **properties: Any
    ) -> str:
        if name in self.entities:
            raise ValueError(f"duplicate entity {name!r}")
        self.entities[name] = {
            "type": "entity",
            "name": name,
            "entityType": entity_type,
            "text": text,
            "observations": list(dict.fromkeys(observations or [])),
            "properties": properties,
        }
        return name

    def relate(self, source: str, relation_type: str, target: str, **properties: Any) -> bool:
        """Add ``source -[relation_type]-> target``; ``False`` if it is a self-loop or already there."""
        for end in (source, target):
            if end not in self.entities:
                raise ValueError(f"relation {source} -[{relation_type}]-> {target}: no entity {end!r}")
        key = (source, relation_type, target)
        if source == target or key in self.relations:
            return False
        self.relations[key] = {
            "type": "relation",
            "source": source,
            "relationType": relation_type,
            "target": target,
            "properties": properties,
        }
        return True

    def lines(self) -> list[str]:
        records = [*self.entities.values(), *self.relations.values()]
        return [json.dumps(r, ensure_ascii=False) for r in records]


# -- places --------------------------------------------------------------------------

COUNTRIES = {
    "Portugal": ("PT", "Kestrel Software is incorporated here; most of the team lives in Portugal."),
    "Germany": ("DE", "Home of the Berlin office and of two of Kestrel's clients."),
    "Spain": ("ES", "Several client contacts and one of Kestrel's engineers are based in Spain."),
    "France": ("FR", "Solenne Retail is headquartered here."),
    "United Kingdom": ("GB", "Bramble Health and Lumio Payments operate from the UK."),
    "Netherlands": ("NL", "Tidewater Logistics and the hosting provider Cloudmere are Dutch."),
    "Poland": ("PL", "Ostara Analytics, the data partner, has its engineering team here."),
    "Sweden": ("SE", "Quillon Publishing and Fernhill Labs are Swedish."),
    "United States": ("US", "One competitor and a few open-source maintainers are in the US."),
}

CITIES = {
    "Lisbon": ("Portugal", "Europe/Lisbon", "Kestrel's headquarters, on Rua da Prata in Baixa."),
    "Porto": ("Portugal", "Europe/Lisbon", "Three Kestrel engineers work from a co-working space here."),
    "Berlin": ("Germany", "Europe/Berlin", "Kestrel's second office, in Kreuzberg, opened in 2021."),
    "Munich": ("Germany", "Europe/Berlin", "Northgate Insurance's head office; visits are usually quarterly."),
    "Madrid": ("Spain", "Europe/Madrid", "Copperleaf Energy's operations centre is here."),
    "Barcelona": ("Spain", "Europe/Madrid", "Marisol Foods is headquartered in Barcelona."),
    "Paris": ("France", "Europe/Paris", "Solenne Retail's digital team sits near Gare de Lyon."),
    "Lyon": ("France", "Europe/Paris", "A couple of freelancers Kestrel works with live in Lyon."),
    "London": ("United Kingdom", "Europe/London", "Bramble Health and Lumio Payments are in London."),
    "Amsterdam": ("Netherlands", "Europe/Amsterdam", "Tidewater Logistics and Cloudmere Hosting are based here."),
    "Kraków": ("Poland", "Europe/Warsaw", "Ostara Analytics' engineering office."),
    "Stockholm": ("Sweden", "Europe/Stockholm", "Quillon Publishing and Fernhill Labs are here."),
    "Austin": ("United States", "America/Chicago", "Nimbus Ledger and Gridline Cloud are headquartered in Austin."),
}

# -- companies -----------------------------------------------------------------------

# name -> (kind, city, industry, employees, founded, text)
COMPANIES: dict[str, tuple[str, str, str, int, int, str]] = {
    COMPANY: ("self", "Lisbon", "software", 31, 2016,
              "Small software company that builds web and mobile products for mid-sized clients and sells "
              "Ledgerline, its own invoicing SaaS. The assistant works for Kestrel."),
    "Tidewater Logistics": ("client", "Amsterdam", "logistics", 1200, 1998,
                            "Freight forwarder running about 400 trucks in the Benelux; Kestrel builds its route "
                            "planner."),
    "Bramble Health": ("client", "London", "healthcare", 340, 2012,
                       "Network of private clinics; Kestrel built and maintains its patient portal."),
    "Northgate Insurance": ("client", "Munich", "insurance", 2600, 1979,
                            "Regional insurer modernising its claims handling, one API at a time."),
    "Solenne Retail": ("client", "Paris", "retail", 5400, 1987,
                       "Fashion retailer with 120 stores; Kestrel builds its loyalty app."),
    "Copperleaf Energy": ("client", "Madrid", "energy", 800, 2009,
                          "Solar and wind operator that wants better forecasts from its smart-meter data."),
    "Quillon Publishing": ("client", "Stockholm", "publishing", 210, 1951,
                           "Book publisher moving its back catalogue to a web reader."),
    "Marisol Foods": ("client", "Barcelona", "food", 950, 1994,
                      "Food wholesaler; Kestrel built the portal its suppliers use to submit invoices."),
    "Vantor Mobility": ("client", "Berlin", "mobility", 160, 2018,
                        "E-scooter and e-bike fleet operator in six German cities."),
    "Ribeira Credit Union": ("client", "Porto", "finance", 420, 1962,
                             "Cooperative bank; a small but steady Ledgerline customer since 2020."),
    "Cloudmere Hosting": ("vendor", "Amsterdam", "cloud hosting", 90, 2011,
                          "Managed Kubernetes provider that hosts Kestrel's production clusters."),
    "Pixelfort Design Studio": ("partner", "Lisbon", "design", 14, 2015,
                                "Design studio Kestrel brings in for branding and larger UX projects."),
    "Ostara Analytics": ("partner", "Kraków", "data consulting", 45, 2017,
                         "Data engineering consultancy; partners with Kestrel on warehouse and ML work."),
    "Lumio Payments": ("vendor", "London", "payments", 600, 2014,
                       "Payment provider behind Ledgerline's card and SEPA payments."),
    "Brightwave Systems": ("competitor", "Berlin", "software", 120, 2013,
                           "Agency that competes with Kestrel for German clients; bid against us for Vantor."),
    "Nimbus Ledger": ("competitor", "Austin", "software", 380, 2015,
                      "US invoicing SaaS, Ledgerline's closest competitor; entered Europe in 2023."),
    "Atlantic Seed Ventures": ("investor", "Lisbon", "venture capital", 12, 2014,
                               "Seed fund that led Kestrel's only outside investment round in 2019."),
    "Fernhill Labs": ("oss", "Stockholm", "developer tools", 25, 2019,
                      "Open-source company behind the queuekit job-queue library Kestrel depends on."),
    "Gridline Cloud": ("oss", "Austin", "observability", 70, 2016,
                       "Observability company that maintains otel-lite, a lightweight tracing library."),
    "Orla Telecom": ("client", "Porto", "telecom", 3100, 1995,
                     "Mobile operator piloting Ledgerline for its enterprise billing."),
}

COMPANY_OBSERVATIONS = {
    "Tidewater Logistics": ["pays invoices on day 45, never earlier",
                            "wants the route planner live before peak season"],
    "Bramble Health": ["all patient data must stay in the UK region", "renewed the maintenance contract in March"],
    "Northgate Insurance": ["procurement needs three quotes for anything over 50k EUR"],
    "Solenne Retail": ["the loyalty app launch slipped from April to June", "asked for a French-speaking PM"],
    "Copperleaf Energy": ["shares meter data as Parquet dumps every night"],
    "Vantor Mobility": ["chose Kestrel over Brightwave Systems in 2023"],
    "Nimbus Ledger": ["cut its EU prices by 20% in May"],
    "Cloudmere Hosting": ["support answers within the hour on weekdays", "raises prices every January"],
    "Lumio Payments": ["deprecates the v1 webhooks API at the end of the year"],
    "Orla Telecom": ["the pilot covers 40 enterprise accounts"],
}

# -- people --------------------------------------------------------------------------

# origin -> (first names, last names, cities, languages)
ORIGINS: dict[str, tuple[list[str], list[str], list[str], str]] = {
    "pt": (["Inês", "João", "Beatriz", "Tiago", "Mariana", "Rui", "Sofia", "Diogo", "Catarina", "Gonçalo"],
           ["Carvalho", "Pereira", "Ferreira", "Santos", "Almeida", "Costa", "Sousa", "Rodrigues", "Lopes",
            "Gonçalves"],
           ["Lisbon", "Porto"], "Portuguese"),
    "de": (["Lukas", "Anna", "Felix", "Lea", "Jonas", "Hannah", "Maximilian", "Clara", "Jürgen", "Lena"],
           ["Schmidt", "Weber", "Becker", "Hoffmann", "Krüger", "Schäfer", "Wagner", "Fischer", "Neumann", "Braun"],
           ["Berlin", "Munich"], "German"),
    "es": (["Lucía", "Javier", "Carmen", "Álvaro", "Marta", "Pablo", "Elena", "Sergio", "Nuria", "Íñigo"],
           ["Martínez", "López", "Sánchez", "Fernández", "Romero", "Navarro", "Jiménez", "Ruiz", "Ortega", "Muñoz"],
           ["Madrid", "Barcelona"], "Spanish"),
    "fr": (["Camille", "Léa", "Théo", "Manon", "Julien", "Élodie", "Antoine", "Margaux", "Mathilde", "Bastien"],
           ["Dubois", "Moreau", "Laurent", "Girard", "Bonnet", "Mercier", "Faure", "Rousseau", "Lambert", "Fontaine"],
           ["Paris", "Lyon"], "French"),
    "gb": (["Oliver", "Amelia", "Harry", "Isla", "George", "Freya", "Jack", "Poppy", "Samuel", "Imogen"],
           ["Clarke", "Hughes", "Patel", "Walsh", "Turner", "Bennett", "Doyle", "Fletcher", "Khan", "Murray"],
           ["London"], "English"),
    "nl": (["Daan", "Sanne", "Bram", "Fleur", "Sem", "Lotte", "Thijs", "Femke"],
           ["de Vries", "Jansen", "van Dijk", "Bakker", "Visser", "Smit", "Mulder", "de Boer"],
           ["Amsterdam"], "Dutch"),
    "pl": (["Łukasz", "Agnieszka", "Piotr", "Zofia", "Michał", "Katarzyna", "Paweł", "Małgorzata"],
           ["Nowak", "Wójcik", "Kowalczyk", "Mazur", "Krawczyk", "Kaczmarek", "Zając", "Król"],
           ["Kraków"], "Polish"),
    "se": (["Björn", "Astrid", "Erik", "Ingrid", "Linnea", "Oskar", "Sigrid", "Axel"],
           ["Lindqvist", "Johansson", "Andersson", "Berg", "Nyström", "Ekström", "Sjöberg", "Holm"],
           ["Stockholm"], "Swedish"),
    "us": (["Emily", "Marcus", "Priya", "Daniel", "Grace", "Tyler", "Aisha", "Kevin"],
           ["Nguyen", "Johnson", "Raman", "Brooks", "Kim", "Reyes", "Carter", "Okafor"],
           ["Austin"], "English"),
}

CITY_ORIGIN = {city: origin for origin, (_, _, cities, _) in ORIGINS.items() for city in cities}

KESTREL_ROLES = [
    ("Staff Engineer", "Platform"), ("Senior Backend Engineer", "Payments"), ("Backend Engineer", "Payments"),
    ("Backend Engineer", "Platform"), ("Senior Frontend Engineer", "Product"), ("Frontend Engineer", "Product"),
    ("Mobile Engineer", "Mobile"), ("Senior Mobile Engineer", "Mobile"), ("Data Engineer", "Data"),
    ("Machine Learning Engineer", "Data"), ("Site Reliability Engineer", "Platform"),
    ("Security Engineer", "Platform"), ("Product Manager", "Product"), ("Product Designer", "Product"),
    ("QA Engineer", "Mobile"), ("Engineering Manager", "Payments"), ("Data Analyst", "Data"),
    ("Account Manager", "Customer Success"), ("Customer Success Manager", "Customer Success"),
    ("Technical Writer", "Product"), ("Backend Engineer", "Data"), ("Frontend Engineer", "Mobile"),
    ("Senior Backend Engineer", "Platform"), ("Sales Lead", "Customer Success"), ("UX Researcher", "Product"),
    ("Office Manager", "Customer Success"),
]

TEAMS = {
    "Platform": "Runs the infrastructure, CI and shared libraries; owns the Kubernetes migration.",
    "Payments": "Builds Ledgerline's billing engine and the Lumio Payments integration.",
    "Product": "Web front ends, design system and product management across client projects.",
    "Mobile": "iOS and Android apps, mostly the Solenne loyalty app and offline sync.",
    "Data": "Pipelines, the warehouse and the forecasting models for Copperleaf.",
    "Customer Success": "Account management, onboarding and sales for Ledgerline and services.",
}

CLIENT_ROLES = ["Head of IT", "Product Owner", "Engineering Lead", "Procurement Lead", "Operations Director",
                "Data Analyst", "CTO", "Project Manager", "Head of Digital", "Solutions Architect"]
PARTNER_ROLES = ["Account Executive", "Solutions Engineer", "Partner Manager", "Support Engineer", "Managing Director"]
OSS_ROLES = ["Maintainer", "Core Developer", "Developer Advocate", "Staff Engineer"]

TIMEZONE_OF = {city: tz for city, (_, tz, _) in CITIES.items()}

PERSON_OBSERVATIONS = [
    "prefers async updates over meetings",
    "asked me for weekly summaries as bullet points",
    "replies fastest on Slack, slowest on email",
    "is the go-to person for {tech} questions",
    "reviews most pull requests to {repo}",
    "mentioned wanting to move to the {team} team",
    "runs the monthly {tech} reading group",
    "does not want to be paged after 22:00 ({tz})",
    "speaks {language} and English",
    "on parental leave until {month}",
    "has admin access to the production cluster",
    "wants to be copied on anything touching billing",
    "asked me to book meetings only in the morning",
    "is travelling to {city} in {month}",
    "prefers written specs before any call",
    "is learning {tech}",
]

CLIENT_OBSERVATIONS = [
    "signs off on scope changes for {project}",
    "prefers calls in {language}",
    "asked for a demo of {project} every second Friday",
    "is sceptical about moving to the cloud",
    "forwarded the invoice questions to procurement",
    "wants status reports as PDF, not links",
    "was promoted in {month}",
    "is the escalation contact when production is down",
]

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "September", "October"]

# -- technologies --------------------------------------------------------------------

# name -> (category, adopted, text)
TECHNOLOGIES: dict[str, tuple[str, int, str]] = {
    "Python": ("language", 2016, "Kestrel's main backend language; every service since 2016 starts here."),
    "TypeScript": ("language", 2018, "Used for every web front end and a few Node services."),
    "Rust": ("language", 2022, "Used for the hot paths of the billing engine and a couple of CLI tools."),
    "Go": ("language", 2020, "Language of the route planner's solver service and some ops tooling."),
    "Kotlin": ("language", 2019, "Android code and the shared mobile sync module."),
    "Swift": ("language", 2019, "iOS code of the client mobile apps."),
    "SQL": ("language", 2016, "Everyone writes it; analysts write the most."),
    "PostgreSQL": ("database", 2016, "The default database of every client project."),
    "Redis": ("database", 2017, "Caching and rate limiting; not used as a primary store."),
    "ClickHouse": ("database", 2022, "Column store behind the Copperleaf meter analytics."),
    "DuckDB": ("database", 2023, "Embedded analytics engine used in notebooks and small batch jobs."),
    "Kùzu": ("database", 2024, "Embedded graph database; the assistant's own memory runs on it."),
    "OpenSearch": ("database", 2021, "Full-text search for Quillon's reader and Ledgerline's invoice search."),
    "Kafka": ("infrastructure", 2021, "Event backbone of the Tidewater route planner."),
    "Kubernetes": ("infrastructure", 2021, "Runs all production workloads on Cloudmere's managed clusters."),
    "Terraform": ("infrastructure", 2020, "Infrastructure as code for every environment."),
    "Docker": ("infrastructure", 2017, "Every service ships as a container image."),
    "AWS": ("cloud", 2017, "Used for S3, SES and a few client accounts that must stay on AWS."),
    "GitHub Actions": ("ci", 2020, "CI for all repositories; self-hosted runners for the big builds."),
    "Prometheus": ("observability", 2021, "Metrics for every service, scraped by the Platform team's stack."),
    "Grafana": ("observability", 2021, "Dashboards and on-call alerts."),
    "OpenTelemetry": ("observability", 2023, "Tracing standard adopted during the observability overhaul."),
    "Sentry": ("observability", 2018, "Error tracking for web and mobile apps."),
    "React": ("framework", 2018, "UI library of every web front end."),
    "Next.js": ("framework", 2022, "React framework used for Ledgerline's marketing site and the patient portal."),
    "FastAPI": ("framework", 2020, "Default framework for new Python APIs."),
    "Django": ("framework", 2016, "Older services and the Ledgerline back office still run on Django."),
    "React Native": ("framework", 2021, "Cross-platform framework of the Solenne loyalty app."),
    "Tailwind CSS": ("framework", 2022, "Styling layer of the Kestrel design system."),
    "gRPC": ("framework", 2020, "Internal service-to-service calls in the route planner."),
    "dbt": ("data", 2022, "Transformations in the consolidated warehouse."),
    "Airflow": ("data", 2021, "Schedules the nightly data pipelines."),
    "pandas": ("data", 2016, "Everyday data wrangling in notebooks and small jobs."),
    "Polars": ("data", 2023, "Replacing pandas in the heavier batch jobs."),
    "scikit-learn": ("ml", 2019, "Baselines and the fraud-signal models for Northgate."),
    "PyTorch": ("ml", 2022, "Training the Copperleaf forecasting model."),
    "sentence-transformers": ("ml", 2024, "Text embeddings for search relevance and the assistant's memory."),
    "Lumio Payments API": ("service", 2019, "Card and SEPA payments for Ledgerline."),
    "Keycloak": ("service", 2020, "Single sign-on for client portals."),
    "Stripe Billing": ("service", 2018, "Kestrel's own subscription billing before Ledgerline could do it."),
    "Figma": ("tool", 2019, "Design files, prototypes and the design-system library."),
    "Linear": ("tool", 2022, "Issue tracker for every internal project; clients get read-only views."),
    "Slack": ("tool", 2016, "Company chat, plus shared channels with four clients."),
    "Notion": ("tool", 2021, "Wiki, meeting notes and the engineering handbook."),
}

# team -> tools it uses every day
TEAM_TOOLS = {
    "Platform": ["Linear", "Slack"],
    "Payments": ["Linear"],
    "Product": ["Figma", "Linear", "Notion"],
    "Mobile": ["Figma"],
    "Data": ["Notion"],
    "Customer Success": ["Slack", "Notion"],
}

# name -> (city, month, text)
EVENTS = {
    "Web Summit 2023": ("Lisbon", "2023-11", "Tech conference in Lisbon; Kestrel had a small Ledgerline stand."),
    "FOSDEM 2024": (None, "2024-02", "Open-source conference in Brussels; two Kestrel engineers gave a talk."),
    "KubeCon Europe 2024": ("Paris", "2024-03", "Kubernetes conference; the Platform team went for the "
                            "observability track."),
    "PyCon Portugal 2024": ("Porto", "2024-05", "Python conference in Porto; Kestrel sponsored the coffee."),
    "Berlin Buzzwords 2024": ("Berlin", "2024-06", "Search and data conference; relevant to the search revamp."),
}

TECH_OBSERVATIONS = [
    "upgrade to the next major version is planned for Q3",
    "two engineers completed the official training in spring",
    "the licence changed last year; legal reviewed it",
    "Zoë Müller wants fewer {category} choices, not more",
    "caused one production incident this year",
    "documentation for it lives in the engineering handbook",
]

# -- projects and repositories -------------------------------------------------------

# name -> (client or None, status, started, team, text, technologies, repositories)
# repositories: (name, language, description, public)
PROJECTS: dict[str, tuple[str | None, str, str, str, str, list[str], list[tuple[str, str, str, bool]]]] = {
    "Ledgerline": (None, "active", "2019-02", "Payments",
                   "Kestrel's own invoicing SaaS for small and mid-sized companies; about 140 paying customers.",
                   ["Python", "Django", "PostgreSQL", "Lumio Payments API", "React"],
                   [("kestrel/ledgerline-api", "Python", "Django and FastAPI services and the nightly billing jobs",
                     False),
                    ("kestrel/ledgerline-web", "TypeScript", "Ledgerline's React web app", False)]),
    "Billing Engine v2": (None, "active", "2024-01", "Payments",
                          "Rewrite of Ledgerline's billing core around event-sourced invoices, with Rust for "
                          "the proration and tax calculations.",
                          ["Rust", "Python", "PostgreSQL", "Kafka"],
                          [("kestrel/billing-core", "Rust", "event-sourced invoice and proration engine", False)]),
    "Tidewater Route Planner": ("Tidewater Logistics", "active", "2023-09", "Platform",
                                "Route optimisation for Tidewater's trucks: a Go solver fed by a Kafka stream of "
                                "orders and traffic updates.",
                                ["Go", "Kafka", "PostgreSQL", "gRPC"],
                                [("kestrel/route-solver", "Go", "vehicle-routing solver service", False),
                                 ("kestrel/route-planner-web", "TypeScript", "dispatcher dashboard", False)]),
    "Bramble Patient Portal": ("Bramble Health", "shipped", "2022-03", "Product",
                               "Patient portal for booking, results and messages; in maintenance since launch.",
                               ["Next.js", "FastAPI", "PostgreSQL", "Keycloak"],
                               [("kestrel/bramble-portal", "TypeScript", "Next.js patient portal", False)]),
    "Northgate Claims API": ("Northgate Insurance", "active", "2023-05", "Payments",
                             "Public claims API that replaces Northgate's batch file exchange with brokers.",
                             ["Python", "FastAPI", "PostgreSQL", "Keycloak"],
                             [("kestrel/northgate-claims", "Python", "claims intake and status API", False)]),
    "Northgate Fraud Signals": ("Northgate Insurance", "planning", "2024-06", "Data",
                                "Scoring claims for fraud signals with simple, explainable models first.",
                                ["Python", "scikit-learn", "Polars"],
                                [("kestrel/fraud-signals", "Python", "feature pipeline and scoring models", False)]),
    "Solenne Loyalty App": ("Solenne Retail", "active", "2023-11", "Mobile",
                            "Loyalty app for Solenne's 2 million members: points, coupons and store check-in.",
                            ["React Native", "TypeScript", "FastAPI", "Sentry"],
                            [("kestrel/solenne-app", "TypeScript", "React Native loyalty app", False),
                             ("kestrel/solenne-backend", "Python", "loyalty points and coupon service", False)]),
    "Mobile Offline Sync": (None, "active", "2024-02", "Mobile",
                            "Shared offline-first sync module for the mobile apps, starting with Solenne.",
                            ["Kotlin", "Swift", "PostgreSQL"],
                            [("kestrel/offline-sync", "Kotlin", "conflict-free sync module for mobile apps", False)]),
    "Copperleaf Meter Analytics": ("Copperleaf Energy", "shipped", "2022-10", "Data",
                                   "Dashboards over 15-minute smart-meter readings from 90k sites.",
                                   ["ClickHouse", "Python", "Airflow", "Grafana"],
                                   [("kestrel/meter-analytics", "Python", "ingestion jobs and ClickHouse models",
                                     False)]),
    "Copperleaf Forecasting Model": ("Copperleaf Energy", "active", "2024-03", "Data",
                                     "Day-ahead production forecasts for Copperleaf's solar parks.",
                                     ["Python", "PyTorch", "Polars", "Airflow"],
                                     [("kestrel/energy-forecast", "Python", "training and serving of the forecast "
                                       "model", False)]),
    "Quillon Reader": ("Quillon Publishing", "active", "2023-06", "Product",
                       "Web reader for Quillon's back catalogue of 9,000 titles, with full-text search.",
                       ["React", "TypeScript", "OpenSearch", "FastAPI"],
                       [("kestrel/quillon-reader", "TypeScript", "web reader front end", False)]),
    "Marisol Supplier Portal": ("Marisol Foods", "shipped", "2021-09", "Product",
                                "Portal where Marisol's suppliers upload invoices and track payments.",
                                ["Django", "Python", "PostgreSQL", "Keycloak"],
                                [("kestrel/marisol-portal", "Python", "Django supplier portal", False)]),
    "Vantor Fleet Dashboard": ("Vantor Mobility", "active", "2024-01", "Product",
                               "Live map and maintenance queue for Vantor's 6,000 scooters and bikes.",
                               ["React", "TypeScript", "PostgreSQL", "Redis"],
                               [("kestrel/fleet-dashboard", "TypeScript", "live fleet map and work orders", False)]),
    "Orla Billing Pilot": ("Orla Telecom", "active", "2024-04", "Payments",
                           "Ledgerline pilot for 40 of Orla's enterprise accounts, with a custom rating step.",
                           ["Python", "PostgreSQL", "Lumio Payments API"],
                           [("kestrel/orla-rating", "Python", "usage rating adapter for Ledgerline", False)]),
    "Kestrel Design System": (None, "active", "2022-05", "Product",
                              "Shared React components and design tokens for every Kestrel front end.",
                              ["React", "TypeScript", "Tailwind CSS"],
                              [("kestrel-oss/kite-ui", "TypeScript", "open-source React component library",
                                True)]),
    "Project Heron": (None, "shipped", "2023-02", "Platform",
                      "Migration of every service from VMs to Kubernetes on Cloudmere; finished in October 2023.",
                      ["Kubernetes", "Terraform", "Docker", "GitHub Actions"],
                      [("kestrel/infra", "HCL", "Terraform for every environment", False),
                       ("kestrel/helm-charts", "YAML", "Helm charts of all services", False)]),
    "Observability Overhaul": (None, "active", "2024-01", "Platform",
                               "Replace ad-hoc logging with OpenTelemetry traces and shared Grafana dashboards.",
                               ["OpenTelemetry", "Prometheus", "Grafana", "Sentry"],
                               [("kestrel-oss/otel-presets", "Python", "OpenTelemetry presets for FastAPI and "
                                 "Django", True)]),
    "Data Warehouse Consolidation": (None, "active", "2023-10", "Data",
                                     "Move client reporting from three databases into one dbt-managed warehouse.",
                                     ["dbt", "SQL", "DuckDB", "Airflow"],
                                     [("kestrel/warehouse", "SQL", "dbt models and tests", False)]),
    "SOC 2 Readiness": (None, "planning", "2024-04", "Platform",
                        "Getting Kestrel ready for a SOC 2 Type I audit, which two clients now ask for.",
                        ["Terraform", "Keycloak", "GitHub Actions"],
                        []),
    "Search Relevance Revamp": (None, "active", "2024-03", "Data",
                                "Hybrid keyword and embedding search for Ledgerline invoices and Quillon books.",
                                ["OpenSearch", "sentence-transformers", "Python"],
                                [("kestrel/search-lab", "Python", "relevance experiments and evaluation sets",
                                  False)]),
    "Agent Memory Pilot": (None, "active", "2024-05", "Platform",
                           "Gives the company assistant a graph memory of people, projects and decisions.",
                           ["Kùzu", "Python", "sentence-transformers"],
                           [("kestrel/assistant-memory", "Python", "the assistant's memory service", False)]),
    "Public API v3": (None, "planning", "2024-06", "Payments",
                      "Next version of Ledgerline's public API: cursor pagination and webhooks v2.",
                      ["Python", "FastAPI", "PostgreSQL"],
                      []),
}

PROJECT_OBSERVATIONS = [
    "the client asked for a fixed-price quote for the next phase",
    "velocity dropped after two engineers moved to {other}",
    "demo to the client went well; next milestone signed",
    "blocked on access to the client's staging environment",
    "budget is {budget}k EUR for this year",
    "the team wants to drop {tech} here",
    "has no on-call rotation yet",
    "test coverage is around {coverage}%",
]

PRIORITY = {"Ledgerline": "high", "Billing Engine v2": "high", "Tidewater Route Planner": "high",
            "Agent Memory Pilot": "medium"}

PROJECT_DEPENDS = [
    ("Billing Engine v2", "Ledgerline"),
    ("Orla Billing Pilot", "Ledgerline"),
    ("Public API v3", "Billing Engine v2"),
    ("Solenne Loyalty App", "Mobile Offline Sync"),
    ("Copperleaf Forecasting Model", "Copperleaf Meter Analytics"),
    ("Search Relevance Revamp", "Data Warehouse Consolidation"),
    ("Observability Overhaul", "Project Heron"),
]

# Kestrel's open-source libraries and third-party ones it depends on: (name, language, description, owner, stars)
OSS_REPOSITORIES = [
    ("kestrel-oss/iban-tools", "Python", "IBAN and BIC validation with the SEPA country rules", COMPANY, 1840),
    ("kestrel-oss/pgfixtures", "Python", "fast PostgreSQL fixtures for pytest", COMPANY, 612),
    ("kestrel-oss/tiny-cron", "Rust", "a cron expression parser with no dependencies", COMPANY, 305),
    ("fernhill/queuekit", "Python", "a Postgres-backed job queue", "Fernhill Labs", 4210),
    ("fernhill/queuekit-dashboard", "TypeScript", "web dashboard for queuekit", "Fernhill Labs", 880),
    ("gridline/otel-lite", "Go", "a lightweight OpenTelemetry exporter", "Gridline Cloud", 2750),
    ("gridline/otel-lite-python", "Python", "Python bindings for otel-lite", "Gridline Cloud", 970),
    ("ostara/pipewright", "Python", "declarative data pipelines on Airflow", "Ostara Analytics", 1320),
]

REPO_DEPENDS = [
    ("kestrel/ledgerline-api", "kestrel-oss/iban-tools"), ("kestrel/ledgerline-api", "fernhill/queuekit"),
    ("kestrel/ledgerline-api", "kestrel-oss/pgfixtures"), ("kestrel/ledgerline-web", "kestrel-oss/kite-ui"),
    ("kestrel/billing-core", "kestrel-oss/tiny-cron"), ("kestrel/billing-core", "kestrel/ledgerline-api"),
    ("kestrel/route-planner-web", "kestrel-oss/kite-ui"), ("kestrel/route-solver", "gridline/otel-lite"),
    ("kestrel/northgate-claims", "kestrel-oss/otel-presets"),
    ("kestrel/solenne-backend", "fernhill/queuekit"), ("kestrel/solenne-app", "kestrel/offline-sync"),
    ("kestrel/meter-analytics", "ostara/pipewright"), ("kestrel/energy-forecast", "ostara/pipewright"),
    ("kestrel/quillon-reader", "kestrel-oss/kite-ui"), ("kestrel/marisol-portal", "kestrel-oss/iban-tools"),
    ("kestrel/fleet-dashboard", "kestrel-oss/kite-ui"), ("kestrel/orla-rating", "kestrel/ledgerline-api"),
    ("kestrel-oss/otel-presets", "gridline/otel-lite-python"), ("fernhill/queuekit-dashboard", "fernhill/queuekit"),
    ("gridline/otel-lite-python", "gridline/otel-lite"), ("kestrel/warehouse", "ostara/pipewright"),
    ("kestrel/assistant-memory", "kestrel-oss/pgfixtures"),
]

REPO_OBSERVATIONS = [
    "CI takes about {minutes} minutes on main",
    "the default branch is protected; two approvals needed",
    "Dependabot pull requests pile up here",
    "has flaky integration tests around time zones",
    "README is out of date since the last refactor",
    "release notes are generated from commit messages",
]

# -- meetings and documents ----------------------------------------------------------

INCIDENTS = [
    ("2024-02-19", "payment webhook outage", "Lumio webhooks were rejected for 47 minutes after a certificate "
     "rotation", "Ledgerline"),
    ("2024-03-28", "route planner backlog", "a Kafka consumer lagged 3 hours behind during a traffic spike",
     "Tidewater Route Planner"),
    ("2024-04-16", "portal login failures", "Keycloak sessions expired early after an upgrade",
     "Bramble Patient Portal"),
    ("2024-05-22", "duplicate loyalty points", "a retried job credited points twice to 1,900 members",
     "Solenne Loyalty App"),
]

RFCS = [
    ("Event-sourced invoices", "Billing Engine v2", ["Kafka", "PostgreSQL"]),
    ("Rust for tax calculations", "Billing Engine v2", ["Rust"]),
    ("One Terraform workspace per client", "Project Heron", ["Terraform"]),
    ("Tracing conventions", "Observability Overhaul", ["OpenTelemetry"]),
    ("Polars instead of pandas for batch jobs", "Data Warehouse Consolidation", ["pandas", "Polars"]),
    ("Hybrid search scoring", "Search Relevance Revamp", ["OpenSearch", "sentence-transformers"]),
    ("Conflict resolution in offline sync", "Mobile Offline Sync", ["Kotlin", "Swift"]),
    ("Cursor pagination for API v3", "Public API v3", ["FastAPI"]),
    ("Graph memory for the assistant", "Agent Memory Pilot", ["Kùzu", "sentence-transformers"]),
    ("Retire Stripe Billing", "Ledgerline", ["Stripe Billing", "Lumio Payments API"]),
]

# (title, kind, date, status, text, technologies it mentions)
GUIDES = [
    ("Engineering handbook", "guide", "2023-09-04", "final",
     "How Kestrel writes, reviews, tests and ships code.", ["Python"]),
    ("Onboarding guide for engineers", "guide", "2024-01-15", "final",
     "The first two weeks at Kestrel, step by step.", ["Docker"]),
    ("On-call runbook", "runbook", "2023-11-20", "final",
     "Alerts, escalation paths and the first five things to check.", ["Prometheus"]),
    ("Security policy", "policy", "2024-04-29", "in review",
     "Access reviews, secrets handling and laptop rules; rewritten for SOC 2.", ["AWS"]),
    ("Q2 2024 roadmap", "roadmap", "2024-03-27", "final", "What ships between April and June, by team.", []),
    ("Q3 2024 roadmap draft", "roadmap", "2024-06-26", "draft",
     "First draft of the Q3 priorities; open for comments until mid-July.", []),
    ("Ledgerline pricing 2024", "pricing", "2024-01-08", "final",
     "Plans, limits and the discount rules for annual contracts.", []),
    ("Remote work policy", "policy", "2023-06-12", "final",
     "Working hours, meeting-free Wednesdays and the travel budget.", []),
    ("Architecture overview", "guide", "2024-02-05", "final",
     "One page per system: what runs where and who owns it.", ["Kubernetes"]),
    ("Hiring plan 2024", "plan", "2023-12-11", "final", "Four hires this year: two backend, one mobile, one data.", []),
    ("Incident severity levels", "runbook", "2024-03-04", "final",
     "SEV1 to SEV4, with examples and who gets paged.", ["Grafana"]),
    ("Ledgerline API reference", "reference", "2024-05-20", "final",
     "Public REST API of Ledgerline, generated from the OpenAPI spec.", ["FastAPI"]),
    ("Client satisfaction survey 2023", "report", "2024-01-22", "final",
     "Results of the yearly survey; NPS went from 31 to 44.", []),
]

MEETING_DECISIONS = [
    "Agreed to freeze the API until {date}.",
    "Decided to ship behind a feature flag first.",
    "Postponed the migration by two sprints.",
    "Agreed on weekly releases from now on.",
    "Chose {tech} after comparing three options.",
    "Asked the client for production data samples.",
    "Moved the launch to {month}.",
    "Agreed that {person} owns the follow-up.",
]

MEETING_ACTIONS = [
    "{person} to send the revised estimate by Friday",
    "{person} to write up the decision as an RFC",
    "{person} to book the next session with the client",
    "{person} to check the licence terms of {tech}",
    "{person} to share the load-test results",
    "{person} to update the roadmap",
]


def _fill(template: str, rng: random.Random, **slots: Any) -> str:
    """Fill only the slots the template uses, choosing each from its candidates."""
    values = {}
    for key, candidates in slots.items():
        if "{" + key + "}" in template:
            values[key] = candidates if isinstance(candidates, str) else rng.choice(candidates)
    return template.format(**values)


def _pick_observations(rng: random.Random, pool: list[str], k_max: int, **slots: Any) -> list[str]:
    k = rng.randint(0, k_max)
    return [_fill(t, rng, **slots) for t in rng.sample(pool, k)]


def _lower_role(role: str) -> str:
    """A job title inside a sentence: "Senior Data Engineer" -> "senior data engineer", "CTO" stays."""
    return " ".join(w if w.isupper() else w.lower() for w in role.split())


def _article(phrase: str) -> str:
    """The indefinite article by sound: "an engineer", "a UX researcher", "an SRE"."""
    first = phrase.split()[0]
    if first.isupper():
        return "an" if first[0] in "AEFHILMNORSX" else "a"
    return "an" if first[0].lower() in "aeio" or first.lower().startswith("und") else "a"


def _random_date(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, (end - start).days))


def build(seed: int = SEED) -> Dataset:
    """Build the whole dataset; the same seed gives the same records in the same order."""
    ds = Dataset(seed)
    rng = ds.rng

    # Places.
    for country, (iso, text) in COUNTRIES.items():
        ds.entity(country, "Place", text, kind="country", iso_code=iso)
    for city, (country, tz, text) in CITIES.items():
        article = "the " if country.startswith(("United", "Netherlands")) else ""
        ds.entity(city, "Place", f"City in {article}{country}. {text}", kind="city", timezone=tz)
        ds.relate(city, "LOCATED_IN", country)

    # Companies.
    for name, (kind, city, industry, employees, founded, text) in COMPANIES.items():
        properties: dict[str, Any] = {"industry": industry, "employees": employees, "founded": founded}
        if kind != "self":
            properties["relationship"] = kind
        ds.entity(name, "Company", text, COMPANY_OBSERVATIONS.get(name, []), **properties)
        ds.relate(name, "LOCATED_IN", city)
    for name, (kind, *_rest) in COMPANIES.items():
        if kind == "client":
            ds.relate(name, "CLIENT_OF", COMPANY, since=rng.randint(2017, 2024))
        elif kind in ("vendor", "partner"):
            ds.relate(COMPANY, "PARTNER_OF" if kind == "partner" else "CUSTOMER_OF", name)
        elif kind == "competitor":
            ds.relate(name, "COMPETES_WITH", COMPANY)
        elif kind == "investor":
            ds.relate(name, "INVESTED_IN", COMPANY, year=2019, round="seed")

    # Technologies.
    for name, (category, adopted, text) in TECHNOLOGIES.items():
        obs = _pick_observations(rng, TECH_OBSERVATIONS, 1, category=category)
        ds.entity(name, "Technology", text, obs, category=category, adopted=adopted)

    # Teams.
    for team, text in TEAMS.items():
        ds.entity(f"{team} team", "Team", text)
        ds.relate(f"{team} team", "PART_OF", COMPANY)
        for tool in TEAM_TOOLS[team]:
            ds.relate(f"{team} team", "USES", tool)

    # Projects and their repositories.
    repo_project: dict[str, str] = {}
    for name, (client, status, started, team, text, techs, repos) in PROJECTS.items():
        others = [p for p in PROJECTS if p != name]
        obs = _pick_observations(rng, PROJECT_OBSERVATIONS, 2, other=others, tech=techs,
                                 budget=[str(b) for b in range(40, 400, 20)],
                                 coverage=[str(c) for c in range(48, 92, 3)])
        properties: dict[str, Any] = {"status": status, "started": started}
        if status != "shipped":
            properties["priority"] = PRIORITY.get(name) or rng.choice(["high", "medium", "medium", "low"])
        if client:
            properties["contract"] = rng.choice(["fixed price", "time and materials", "retainer"])
        ds.entity(name, "Project", text, obs, **properties)
        if client:
            ds.relate(name, "BUILT_FOR", client)
        for tech in techs:
            ds.relate(name, "USES", tech)
        for repo, language, description, public in repos:
            repo_props: dict[str, Any] = {"language": language, "visibility": "public" if public else "private",
                                          "open_issues": rng.randint(0, 60)}
            if public:
                repo_props["stars"] = rng.randint(150, 2400)
                repo_props["license"] = "MIT"
            repo_obs = _pick_observations(rng, REPO_OBSERVATIONS, 1, minutes=[str(m) for m in range(4, 31)])
            text = rng.choice([f"{description[0].upper()}{description[1:]} ({name}).",
                               f"Repository of {name}: {description}.",
                               f"{description[0].upper()}{description[1:]}. Part of {name}."])
            ds.entity(repo, "Repository", text, repo_obs, **repo_props)
            ds.relate(repo, "PART_OF", name)
            if language in TECHNOLOGIES:
                ds.relate(repo, "WRITTEN_IN", language)
            repo_project[repo] = name
    for repo, language, description, owner, stars in OSS_REPOSITORIES:
        owner_text = "Kestrel's open-source library" if owner == COMPANY else f"Open-source library by {owner}"
        ds.entity(repo, "Repository", f"{owner_text}: {description}.",
                  _pick_observations(rng, REPO_OBSERVATIONS, 1, minutes=[str(m) for m in range(3, 15)]),
                  language=language, visibility="public", stars=stars, license=rng.choice(["MIT", "Apache-2.0"]))
        ds.relate(repo, "MAINTAINED_BY", owner)
        ds.relate(repo, "WRITTEN_IN", language)
    for a, b in REPO_DEPENDS:
        ds.relate(a, "DEPENDS_ON", b, version=f"^{rng.randint(0, 4)}.{rng.randint(0, 12)}")
    for a, b in PROJECT_DEPENDS:
        ds.relate(a, "DEPENDS_ON", b)

    # People. The founders and a departing contractor are fixed; everyone else is drawn.
    used_names: list[str] = []

    def draw_name(origin: str) -> str:
        firsts, lasts, _, _ = ORIGINS[origin]
        while True:
            name = f"{rng.choice(firsts)} {rng.choice(lasts)}"
            if name not in used_names:
                used_names.append(name)
                return name

    def add_person(name: str, origin: str, city: str, company: str, role: str, since: int, text: str,
                   observations: list[str], **extra: Any) -> str:
        properties = {"role": role, "since": since, **extra}
        ds.entity(name, "Person", text, observations, **properties)
        ds.relate(name, "WORKS_AT", company, since=since)
        # Outsiders are placed by their company unless they live elsewhere, which is worth remembering.
        if company == COMPANY or city != COMPANIES[company][1]:
            ds.relate(name, "LOCATED_IN", city)
        return name

    def person_obs(origin: str, city: str, pool: list[str], k_max: int, projects: list[str]) -> list[str]:
        return _pick_observations(
            rng, pool, k_max, tech=list(TECHNOLOGIES), repo=list(repo_project), team=list(TEAMS),
            tz=TIMEZONE_OF[city], language=ORIGINS[origin][3], month=MONTHS, city=list(CITIES), project=projects,
        )

    used_names.extend(["Zoë Müller", "José García", "Hugo Lefèvre"])
    ceo = add_person("José García", "es", "Lisbon", COMPANY, "CEO", 2016,
                     "Co-founder and CEO of Kestrel Software. Runs sales and the client relationships, and still "
                     "reviews every fixed-price quote.",
                     ["prefers a one-page summary before any decision", "speaks Spanish, Portuguese and English",
                      "wants Ledgerline to be half of revenue by 2026"])
    cto = add_person("Zoë Müller", "de", "Berlin", COMPANY, "CTO", 2016,
                     "Co-founder and CTO of Kestrel Software, based in Berlin. Leads the Platform team and sets "
                     "the technical direction; started the Agent Memory Pilot.",
                     ["prefers async updates over meetings", "is the final reviewer of every RFC"],
                     languages=["German", "English", "Portuguese"])
    contractor = add_person("Hugo Lefèvre", "fr", "Lyon", COMPANY, "Freelance Backend Engineer", 2023,
                            "Freelance Python engineer on a contract with Kestrel; worked on the Northgate Claims "
                            "API and the Billing Engine v2 prototype.",
                            ["contract ends on 30 June 2024", "prefers calls in French"], contract="freelance")
    ds.relate(ceo, "FOUNDED", COMPANY, year=2016)
    ds.relate(cto, "FOUNDED", COMPANY, year=2016)
    ds.relate(cto, "KNOWS", ceo, since=2011, context="studied together in Madrid")
    ds.relate(ceo, "KNOWS", cto, since=2011, context="studied together in Madrid")
    ds.relate(cto, "REPORTS_TO", ceo)

    team_members: dict[str, list[str]] = {team: [] for team in TEAMS}
    team_members["Platform"].append(cto)
    team_members["Payments"].append(contractor)
    kestrel_staff = [cto, contractor]
    home_cities = ["Lisbon"] * 10 + ["Porto"] * 4 + ["Berlin"] * 6 + ["Madrid", "Barcelona", "Kraków", "London",
                                                                       "Amsterdam", "Stockholm"]
    for role, team in KESTREL_ROLES:
        city = rng.choice(home_cities)
        origin = CITY_ORIGIN[city] if rng.random() < 0.8 else rng.choice(list(ORIGINS))
        name = draw_name(origin)
        since = rng.randint(2016, 2024)
        project = rng.choice([p for p, spec in PROJECTS.items() if spec[3] == team or (team == "Customer Success"
                                                                                       and spec[0])])
        template = rng.choice([
            "{role} at Kestrel Software since {since}, based in {city}. Works mostly on {project}.",
            "{role} in the {team} team, working from {city}. Main contact for {project}.",
            "Joined Kestrel in {since} as {a} {role_lower}; now on {project} in the {team} team.",
            "{role} ({team} team) in {city}. Knows {project} better than anyone.",
        ])
        text = template.format(role=role, role_lower=_lower_role(role), a=_article(role), since=since, city=city,
                               project=project, team=team)
        add_person(name, origin, city, COMPANY, role, since, text,
                   person_obs(origin, city, PERSON_OBSERVATIONS, 3, [project]))
        ds.relate(name, "MEMBER_OF", f"{team} team", since=since)
        team_members[team].append(name)
        kestrel_staff.append(name)
    ds.relate(cto, "MEMBER_OF", "Platform team", since=2016)
    ds.relate(contractor, "MEMBER_OF", "Payments team", since=2023)

    # Team leads are the earliest joiners; every project is led by someone in its team.
    team_lead: dict[str, str] = {"Platform": cto}
    for team, members in team_members.items():
        if team not in team_lead:
            staff = [m for m in members if m != contractor]
            team_lead[team] = min(staff, key=lambda m: (ds.entities[m]["properties"]["since"], m))
        ds.relate(team_lead[team], "LEADS", f"{team} team")
        ds.relate(team_lead[team], "REPORTS_TO", ceo if team == "Customer Success" else cto)
    ds.relate(contractor, "REPORTS_TO", team_lead["Payments"])
    for name, spec in PROJECTS.items():
        team = spec[3]
        staff = [m for m in team_members[team] if m != contractor]
        lead = cto if name in ("Agent Memory Pilot", "Project Heron") else rng.choice(staff)
        ds.relate(lead, "LEADS", name, since=spec[2][:4])

    # Contributors: one or two members of the owning team per repository.
    for repo, project in repo_project.items():
        team = PROJECTS[project][3]
        for person in rng.sample(team_members[team], min(len(team_members[team]), rng.randint(1, 2))):
            ds.relate(person, "CONTRIBUTES_TO", repo, commits=rng.randint(5, 900))
    for repo in ("kestrel/billing-core", "kestrel/northgate-claims"):
        ds.relate(contractor, "CONTRIBUTES_TO", repo, commits=rng.randint(40, 300))
    for repo in ("kestrel/assistant-memory", "kestrel/infra", "kestrel-oss/iban-tools"):
        ds.relate(cto, "CONTRIBUTES_TO", repo, commits=rng.randint(40, 600))

    # People at clients, partners, competitors, the investor and open-source companies.
    contacts: dict[str, list[str]] = {}
    for company, (kind, city, *_rest) in COMPANIES.items():
        if kind == "self":
            continue
        count = {"client": 3, "vendor": 2, "partner": 2, "competitor": 1, "investor": 1, "oss": 3}[kind]
        roles = {"client": CLIENT_ROLES, "oss": OSS_ROLES}.get(kind, PARTNER_ROLES)
        # A client without a project of its own is a Ledgerline customer.
        projects = [p for p, spec in PROJECTS.items() if spec[0] == company] or ["Ledgerline"]
        contacts[company] = []
        for role in rng.sample(roles, count):
            home = city if rng.random() < 0.85 else rng.choice(list(CITIES))
            origin = CITY_ORIGIN[home]
            name = draw_name(origin)
            since = rng.randint(2008, 2024)
            project = rng.choice(projects)
            if kind == "client":
                text = rng.choice([
                    f"{role} at {company} in {home}; our main contact for {project}.",
                    f"{role} at {company}. Signs off on anything that changes the scope of {project}.",
                    f"Works at {company} as {_article(role)} {_lower_role(role)}, from {home}; involved in {project}.",
                ])
                obs = person_obs(origin, home, CLIENT_OBSERVATIONS, 2, projects)
            elif kind == "oss":
                text = f"{role} at {company} in {home}; one of the people behind its open-source libraries."
                obs = person_obs(origin, home, PERSON_OBSERVATIONS, 1, projects)
            else:
                text = rng.choice([
                    f"{role} at {company}, based in {home}.",
                    f"Our {_lower_role(role)} contact at {company} ({home}).",
                ])
                obs = person_obs(origin, home, [o for o in CLIENT_OBSERVATIONS if "{project}" not in o], 1, projects)
            add_person(name, origin, home, company, role, since, text, obs)
            contacts[company].append(name)

    # Open-source maintainers and contributors.
    for repo, _language, _description, owner, _stars in OSS_REPOSITORIES:
        maintainers = contacts.get(owner) or [cto]
        if owner == COMPANY:
            maintainers = rng.sample(kestrel_staff, 2)
        for person in rng.sample(maintainers, min(2, len(maintainers))):
            ds.relate(person, "CONTRIBUTES_TO", repo, commits=rng.randint(50, 2500), maintainer=True)

    # Who knows whom: colleagues, account owners and their client contacts, a few old acquaintances.
    account_owner: dict[str, str] = {}
    customer_success = team_members["Customer Success"]
    for company, people in contacts.items():
        owner = ceo if COMPANIES[company][0] in ("investor", "competitor") else rng.choice(customer_success)
        account_owner[company] = owner
        ds.relate(owner, "KNOWS", people[0], context="account")
    for name, spec in PROJECTS.items():
        client = spec[0]
        if client:
            lead = next(s for (s, t, o) in ds.relations if t == "LEADS" and o == name)
            ds.relate(lead, "KNOWS", rng.choice(contacts[client]), context=name)
    for _ in range(10):
        a, b = rng.sample(kestrel_staff, 2)
        ds.relate(a, "KNOWS", b, context=rng.choice(["same team", "pair programming", "conference trip",
                                                     "onboarding buddy", "book club"]))
    externals = [p for people in contacts.values() for p in people]
    for _ in range(5):
        ds.relate(rng.choice(kestrel_staff), "KNOWS", rng.choice(externals),
                  context=rng.choice(["former colleague", "met at PyCon Portugal", "met at FOSDEM"]))

    # Meetings.
    start, end = date(2024, 1, 8), date(2024, 6, 28)
    meetings: list[tuple[str, str, date, list[str], str | None]] = []  # name, kind, when, people, project
    client_projects = [p for p, spec in PROJECTS.items() if spec[0]]
    for _ in range(11):
        project = rng.choice(client_projects)
        client = PROJECTS[project][0]
        team = PROJECTS[project][3]
        when = _random_date(rng, start, end)
        people = [rng.choice(team_members[team]), *rng.sample(contacts[client], rng.randint(1, 2))]
        meetings.append((f"{client} sync {when.isoformat()}", "client sync", when, people, project))
    for _ in range(10):
        project = rng.choice(list(PROJECTS))
        team = PROJECTS[project][3]
        when = _random_date(rng, start, end)
        people = rng.sample(team_members[team], 2)
        meetings.append((f"Sprint review: {project} ({when.isoformat()})", "sprint review", when, people, project))
    for title, project, _techs in RFCS[:7]:
        when = _random_date(rng, start, end)
        team = PROJECTS[project][3]
        people = [cto, *rng.sample(team_members[team], 1)]
        meetings.append((f"Architecture review: {title} ({when.isoformat()})", "architecture review", when, people,
                         project))
    for when_text, incident, _summary, project in INCIDENTS:
        when = date.fromisoformat(when_text) + timedelta(days=rng.randint(2, 6))
        team = PROJECTS[project][3]
        people = [cto, *rng.sample(team_members[team], 2)]
        meetings.append((f"Incident retro: {incident} ({when.isoformat()})", "incident retro", when, people,
                         project))
    # Only the people the assistant saw speak are recorded, not the whole room.
    for month in (1, 3, 5):
        when = date(2024, month, rng.randint(1, 28))
        meetings.append((f"All-hands, {when:%B} 2024", "all-hands", when, [ceo, cto], None))
    for quarter, when in (("Q2", date(2024, 3, 26)), ("Q3", date(2024, 6, 25))):
        people = [ceo, cto, *rng.sample(list(team_lead.values()), 2)]
        meetings.append((f"Quarterly planning {quarter} 2024", "planning", when, people, None))
    for _ in range(3):
        company = rng.choice([c for c, spec in COMPANIES.items() if spec[0] in ("partner", "vendor")])
        when = _random_date(rng, start, end)
        people = [account_owner[company], contacts[company][0]]
        meetings.append((f"{company} check-in {when.isoformat()}", "partner check-in", when, people, None))

    for name, kind, when, people, project in meetings:
        people = list(dict.fromkeys(people))
        topic = project or rng.choice(["hiring", "the roadmap", "Ledgerline pricing", "office moves", "budgets"])
        techs = PROJECTS[project][5] if project else list(TECHNOLOGIES)
        decision = _fill(rng.choice(MEETING_DECISIONS), rng, date=["2 May", "the end of the sprint", "1 July"],
                         tech=techs, month=MONTHS, person=people)
        text = rng.choice([
            f"{kind.capitalize()} about {topic} with {len(people)} people. {decision}",
            f"{len(people)} attendees; mostly about {topic}. {decision}",
            f"{kind.capitalize()}: {topic}. {decision}",
        ])
        owners = rng.sample(people, min(len(people), rng.randint(0, 2)))
        actions = [_fill(t, rng, person=owner, tech=techs) for t, owner in zip(rng.sample(MEETING_ACTIONS, 2), owners)]
        properties: dict[str, Any] = {"kind": kind, "date": when.isoformat(),
                                      "duration_min": rng.choice([25, 30, 45, 50, 60, 90])}
        places = ["remote", "client site"] if kind == "client sync" else ["remote", "Lisbon office", "Berlin office"]
        properties["location"] = rng.choice(places)
        ds.entity(name, "Meeting", text, actions, **properties)
        organiser = people[0]
        for person in people:
            ds.relate(person, "ATTENDED", name, **({"role": "organiser"} if person == organiser else {}))
        if project:
            ds.relate(name, "DISCUSSED", project)

    # Events: who went is all the assistant knows about them.
    for name, (city, month, text) in EVENTS.items():
        ds.entity(name, "Event", text, month=month)
        if city:
            ds.relate(name, "LOCATED_IN", city)
        for person in rng.sample(kestrel_staff, rng.randint(1, 2)):
            ds.relate(person, "ATTENDED", name, role=rng.choice(["speaker", "visitor", "visitor"]))

    # Documents.
    def add_document(name: str, kind: str, when: date, status: str, text: str, authors: list[str],
                     mentions: list[str], observations: list[str] | None = None, **extra: Any) -> None:
        ds.entity(name, "Document", text, observations or [], kind=kind, date=when.isoformat(), status=status,
                  **extra)
        for author in dict.fromkeys(authors):
            ds.relate(author, "AUTHORED", name)
        for target in mentions:
            ds.relate(name, "MENTIONS", target)

    for number, (title, project, techs) in enumerate(RFCS, start=7):
        team = PROJECTS[project][3]
        author = rng.choice(team_members[team])
        when = _random_date(rng, date(2023, 10, 1), end)
        summary = rng.choice([
            f"Proposes {title.lower()} for {project}.",
            f"Argues for {title.lower()}; written for {project}.",
            f"Design proposal: {title.lower()} ({project}).",
        ])
        status = rng.choice(["draft", "in review", "accepted", "accepted", "rejected"])
        add_document(f"RFC-{number:03d}: {title}", "rfc", when, status, summary, [author], [project, techs[0]],
                     _pick_observations(rng, ["Zoë Müller asked for a rollback plan",
                                              "needs a decision before the next planning",
                                              "two open comment threads left"], 1),
                     pages=rng.randint(3, 14))
    for when_text, incident, summary, project in INCIDENTS:
        team = PROJECTS[project][3]
        authors = rng.sample(team_members[team], 1)
        add_document(f"Postmortem {when_text}: {incident}", "postmortem", date.fromisoformat(when_text) +
                     timedelta(days=rng.randint(3, 8)), "final", f"What happened: {summary}. Root cause, timeline and "
                     "follow-ups.", authors, [project], pages=rng.randint(2, 6))
    for title, kind, when_text, status, text, techs in GUIDES:
        add_document(title, kind, date.fromisoformat(when_text), status, text, [rng.choice(kestrel_staff)], techs,
                     pages=rng.randint(4, 40))
    for company in [c for c, spec in COMPANIES.items() if spec[0] == "client"][:6]:
        projects = [p for p, spec in PROJECTS.items() if spec[0] == company]
        add_document(f"Statement of work: {company} 2024", "contract", _random_date(rng, date(2023, 11, 1),
                                                                                    date(2024, 3, 1)), "final",
                     f"Scope, milestones and rates agreed with {company} for 2024.",
                     [account_owner[company]], [company, *projects], value_eur=rng.randrange(60_000, 480_000,
                                                                                                   5_000))
    return ds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output file (default: {DEFAULT_OUT})")
    parser.add_argument("--seed", type=int, default=SEED, help="change it to get another, equally plausible company")
    args = parser.parse_args(argv)
    ds = build(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(ds.lines()) + "\n", encoding="utf-8")
    print(f"wrote {len(ds.entities)} entities and {len(ds.relations)} relations to {args.out}")


if __name__ == "__main__":
    main()
