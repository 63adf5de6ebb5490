/**
 * vtk.js (through Cornerstone) pulls in xmlbuilder2, which extends Node's EventEmitter; the `events`
 * package provides it in the browser (Vite aliases the bare "events" import to it). Importing it here
 * keeps the dependency explicit and lets the page fail loudly at start if it is ever missing.
 */
import { EventEmitter } from "events";

if (typeof EventEmitter !== "function") throw new Error("the events polyfill is missing from the bundle");
