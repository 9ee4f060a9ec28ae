# attack: import subprocess
# expect: rejected SB101
import subprocess  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        subprocess.run(["touch", "/tmp/strategylab_attack_canary.txt"])
