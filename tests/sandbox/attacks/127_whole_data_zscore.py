# attack: cdl_z with full=True standardises every bar with the whole data set
# expect: engine IndicatorError
# message: full
class Attack(Strategy):
    def initialize(self):
        self.z = self.indicator("cdl_z", full=1 > 0)

    def on_data(self, bar):
        pass
