"""The tag server: root service, component context, composition root and signals."""
