"""The voice FAQ robot: callers' questions answered by voice, offline, before a person takes the call.

Asterisk hands the call's audio to ``linebox-robot.service`` over AudioSocket (:mod:`.audiosocket`); the
service finds the caller's utterances by their energy (:mod:`.speech`), recognises them with PocketSphinx
on a grammar built from the robot's own questions (:mod:`.recognizer`), or with a Vosk model the admin
placed (:mod:`.vosk_engine`; :mod:`.engines` says which models are present and which a robot uses),
picks the entry with RapidFuzz (:mod:`.matcher`), plays the entry's spoken or uploaded answer back, and
writes what happened to a ``RobotCall`` row (:mod:`.calls`), which the dialplan reads through the
FastAGI script ``robot`` once the robot lets go.
"""
