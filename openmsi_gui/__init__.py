"""OpenMSI GUI: stream instrument data files through Apache Kafka."""

__version__ = "0.1.0"
