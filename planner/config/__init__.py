"""Scenario configuration: pydantic models and the YAML loader."""

from planner.config.load import defaults_yaml, load_scenario, scenario_to_yaml
from planner.config.models import Scenario

__all__ = ["Scenario", "load_scenario", "scenario_to_yaml", "defaults_yaml"]
