"""Developer tools that run the whole system: the demo and the chaos run."""
