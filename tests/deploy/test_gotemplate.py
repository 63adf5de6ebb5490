"""The Go-template subset renderer itself, on small hand-written templates with known Helm output."""

from __future__ import annotations

import pytest

from tests.deploy.gotemplate import Renderer, RequiredValueError, TemplateError, _parse, _segments


def render(source: str, values: dict | None = None) -> str:
    defines: dict = {}
    nodes = _parse(_segments(source), defines)
    context = {"Values": values or {}, "Release": {"Name": "rel"}}
    return Renderer(defines).render(nodes, context, context, [{}])


def test_trim_markers_eat_the_whitespace_on_their_side_only():
    assert render("a  {{- 1 }}  b") == "a1  b"
    assert render("a  {{ 1 -}}  \n b") == "a  1b"


def test_values_missing_keys_print_empty_and_fields_of_missing_values_fail():
    assert render("[{{ .Values.nothing }}]") == "[]"
    with pytest.raises(TemplateError, match="nil pointer"):
        render("{{ .Values.nothing.deeper }}")


def test_if_else_if_else_and_go_truthiness():
    source = "{{ if .Values.a }}A{{ else if .Values.b }}B{{ else }}C{{ end }}"
    assert render(source, {"a": [1], "b": 1}) == "A"
    assert render(source, {"a": [], "b": 1}) == "B"
    assert render(source, {"a": {}, "b": 0}) == "C"


def test_range_over_a_map_is_in_key_order_with_key_and_value_variables():
    source = "{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}"
    assert render(source, {"m": {"b": 2, "a": 1}}) == "a=1;b=2;"


def test_range_and_with_rebind_dot_while_dollar_stays_the_root():
    source = (
        "{{ range .Values.l }}{{ . }}/{{ $.Release.Name }} {{ end }}{{ with .Values.w }}{{ .x }}{{ end }}"
    )
    assert render(source, {"l": ["p", "q"], "w": {"x": "X"}}) == "p/rel q/rel X"


def test_include_of_a_define_with_nindent_and_to_yaml_sorted():
    source = (
        '{{- define "lbl" -}}\nname: {{ .n }}\n{{- end -}}'
        'meta:{{- include "lbl" .Values | nindent 2 }}\nres:{{- toYaml .Values.r | nindent 2 }}'
    )
    assert (
        render(source, {"n": "web", "r": {"z": 1, "a": "2"}}) == "meta:\n  name: web\nres:\n  a: '2'\n  z: 1"
    )


def test_default_quote_printf_and_variable_reassignment():
    source = (
        '{{- $t := default "0.1" .Values.tag -}}{{- if .Values.gpu }}{{- $t = "gpu" }}{{- end -}}'
        '{{ printf "%s:%s" .Values.repo $t | quote }}'
    )
    assert render(source, {"repo": "img", "tag": ""}) == '"img:0.1"'
    assert render(source, {"repo": "img", "tag": "", "gpu": True}) == '"img:gpu"'


def test_required_fails_on_empty_values_with_its_message():
    with pytest.raises(RequiredValueError, match="give a key"):
        render('{{ required "give a key" .Values.key }}', {"key": ""})


def test_functions_outside_the_subset_are_refused():
    with pytest.raises(TemplateError, match="outside the supported subset"):
        render("{{ .Values.x | b64enc }}", {"x": "a"})
