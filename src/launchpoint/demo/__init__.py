"""A seeded demo population (products, customers, events with hidden tastes) and its segments."""

from launchpoint.demo.generator import DemoDataset, generate_demo

__all__ = ["DemoDataset", "generate_demo"]
