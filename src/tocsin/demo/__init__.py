"""``tocsin demo``: a law firm, its users, dossiers and deadlines, a sign-in picker and a
stream of realistic notifications, in one command."""

from tocsin.demo.command import add_demo_command, cmd_demo

__all__ = ["add_demo_command", "cmd_demo"]
