from ml.data.planes import BACKGROUND_INDEX, PLANES, plane_index


def test_fourteen_classes_in_sononet_order_with_background_at_three():
    assert PLANES == (
        "3VV", "4CH", "Abdominal", "Background", "Brain (Cb.)", "Brain (Tv.)", "Femur", "Kidneys", "Lips",
        "LVOT", "Profile", "RVOT", "Spine (cor.)", "Spine (sag.)",
    )  # fmt: skip
    assert BACKGROUND_INDEX == 3 == plane_index("Background")
    assert plane_index("Spine (sag.)") == 13
