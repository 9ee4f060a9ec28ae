# attack: climb from an exception's traceback to the engine's frames
# expect: rejected SB202
class Attack(Strategy):
    def on_data(self, bar):
        try:
            1 / 0
        except ZeroDivisionError as error:
            frame = error.__traceback__.tb_frame.f_back
            self.log(frame.f_globals)
