# attack: use tb_frame/f_back without dunders
# expect: rejected SB302
class Attack(Strategy):
    def on_data(self, bar):
        try:
            1 / 0
        except ZeroDivisionError as error:
            tb = error.args
            self.log(tb.tb_frame.f_back.f_globals)
