"""The voice FAQ robot: callers' questions answered by voice, offline, before a person takes the call.

Asterisk hands the call's audio to ``linebox-robot.service`` over AudioSocket (:mod:`.audiosocket`); the
service finds the caller's utterances by their energy (:mod:`.speech`), recognises them with PocketSphinx
on a grammar built from the robot's own questions (:mod:`.recognizer`), picks the entry with RapidFuzz
(:mod:`.matcher`), plays the entry's spoken answer back, and writes what happened to a ``RobotCall`` row
(:mod:`.calls`), which the dialplan reads through the FastAGI script ``robot`` once the robot lets go.
"""
