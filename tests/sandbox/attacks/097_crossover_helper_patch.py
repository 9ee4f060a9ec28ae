# attack: patch an attribute on the injected helper
# expect: failed SandboxViolation
class Attack(Strategy):
    def on_data(self, bar):
        crossover.cache = 1
