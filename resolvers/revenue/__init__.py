"""Revenue attribution to agents, goals and customers, exact money, against what agents cost."""
