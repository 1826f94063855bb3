"""Site configuration: YAML (and CSV tag lists) validated at load into a frozen site model."""
