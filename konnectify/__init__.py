"""Project package: settings, URLs, the healthcheck, system checks and the run command."""
