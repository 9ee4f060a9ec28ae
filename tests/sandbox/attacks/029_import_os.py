# attack: import os
# expect: rejected SB101
# message: importing 'os' is not allowed; available modules are math, statistics, numpy, pandas
import os  # noqa: F401, F403  (the import is the attack)


class Attack(Strategy):
    def on_data(self, bar):
        os.system("touch /tmp/strategylab_attack_canary.txt")
