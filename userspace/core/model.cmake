# config model, control-plane messages, participant state machine (issue 3)
